// The canvas's short messages (Mantine notifications, with a named close button for screen readers).
import { notifications } from "@mantine/notifications";

export function notify(color: "teal" | "red", message: string, title?: string): void {
  notifications.show({ color, message, title, closeButtonProps: { "aria-label": "Close the message" } });
}
