// The app's frame: header (name, live indicator, theme, user), navigation to every page, and the outlet.
import {
  ActionIcon,
  AppShell,
  Badge,
  Burger,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Text,
  Title,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Suspense } from "react";
import { NavLink as RouterLink, Navigate, Outlet, useLocation } from "react-router-dom";

import { useEventStream } from "../lib/events";
import { useSession } from "../lib/session";
import { Loading } from "./Loading";

interface NavItem {
  to: string;
  label: string;
  scope?: string;
}

export const NAV: NavItem[] = [
  { to: "/", label: "Home" },
  { to: "/fleet", label: "Fleet", scope: "agents:read" },
  { to: "/run", label: "Run a script", scope: "jobs:run" },
  { to: "/jobs", label: "Jobs", scope: "jobs:read" },
  { to: "/scripts", label: "Scripts", scope: "scripts:read" },
  { to: "/schedules", label: "Schedules", scope: "schedules:read" },
  { to: "/patching", label: "Patching", scope: "inventory:read" },
  { to: "/workflows", label: "Workflows", scope: "workflows:read" },
  { to: "/settings", label: "Settings" },
];

function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const next = scheme === "dark" ? "light" : "dark";
  return (
    <ActionIcon variant="default" size="lg" aria-label={`Switch to ${next} theme`} onClick={() => setColorScheme(next)}>
      <Text size="sm" aria-hidden>
        {scheme === "dark" ? "☀" : "☾"}
      </Text>
    </ActionIcon>
  );
}

export function Shell() {
  const { me, loading, can, logout } = useSession();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const stream = useEventStream(!!me && can("agents:read"));
  if (loading) return <Loading />;
  if (!me) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <Title order={1} size="h4">
              Borealis
            </Title>
            <Badge
              variant="dot"
              color={stream === "live" ? "teal" : "orange"}
              aria-label={`event stream ${stream}`}
              data-testid="stream-state"
              data-state={stream}
            >
              {stream === "live" ? "live" : stream}
            </Badge>
          </Group>
          <Group gap="sm">
            <ThemeToggle />
            <Menu position="bottom-end">
              <Menu.Target>
                <UnstyledButton aria-label="Account" px="xs">
                  <Text size="sm" fw={500}>
                    {me.name}
                  </Text>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item component={RouterLink} to="/settings/tokens">
                  My API tokens
                </Menu.Item>
                <Menu.Item onClick={() => void logout()}>Log out</Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <ScrollArea>
          {NAV.filter((item) => !item.scope || can(item.scope)).map((item) => (
            <NavLink
              key={item.to}
              component={RouterLink}
              to={item.to}
              label={item.label}
              end={item.to === "/"}
              onClick={close}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
