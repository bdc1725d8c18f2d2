// The placeholder while a page or its data loads.
import { Center, Loader } from "@mantine/core";

export function Loading() {
  return (
    <Center h={200} aria-busy="true">
      <Loader role="status" aria-label="Loading" />
    </Center>
  );
}
