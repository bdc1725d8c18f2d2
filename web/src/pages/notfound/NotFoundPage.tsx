// The page for a URL the console does not know.
import { Anchor, Stack, Text } from "@mantine/core";
import { Link, useLocation } from "react-router-dom";

import { PageTitle } from "../../components/PageTitle";

export default function NotFoundPage() {
  const location = useLocation();
  return (
    <Stack>
      <PageTitle title="Page not found" />
      <Text>
        There is no page at <code>{location.pathname}</code>.
      </Text>
      <Anchor component={Link} to="/">
        Go to the home page
      </Anchor>
    </Stack>
  );
}
