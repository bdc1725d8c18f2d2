import { createTheme, type CSSVariablesResolver } from "@mantine/core";

// Darker primary and dimmed shades than Mantine's defaults, so text meets WCAG AA contrast (axe checks it).
export const theme = createTheme({
  primaryColor: "blue",
  primaryShade: { light: 8, dark: 8 },
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  defaultRadius: "sm",
});

export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: {
    "--mantine-color-dimmed": t.colors.gray[7] ?? "#495057",
    // Text on the "light" variants (badges, active links, alerts) one shade darker than the default.
    "--mantine-color-blue-light-color": "#1864ab",
    "--mantine-color-teal-light-color": "#066649",
    "--mantine-color-gray-light-color": "#343a40",
    "--mantine-color-orange-light-color": "#a33a0a",
    "--mantine-color-red-light-color": "#a51d1d",
    "--mantine-color-grape-light-color": "#862e9c",
  },
  dark: { "--mantine-color-dimmed": t.colors.dark[1] ?? "#b8b8b8" },
});
