// The place of a page that is laid out in the navigation but not built yet; it says so plainly.
import { Anchor, Stack, Text } from "@mantine/core";
import { Link } from "react-router-dom";

import { PageTitle } from "../../components/PageTitle";

export default function UpcomingPage({ title }: { title: string }) {
  return (
    <Stack>
      <PageTitle title={title} />
      <Text>This page is not built yet. Its API is available today; see the API documentation.</Text>
      <Anchor href="/api/v1/docs">API documentation</Anchor>
      <Anchor component={Link} to="/fleet">
        Back to the fleet
      </Anchor>
    </Stack>
  );
}
