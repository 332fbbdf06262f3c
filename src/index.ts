import { createApp } from "./app";
import type { Bindings } from "./env";

export { Dispatcher } from "./durable/dispatcher";
export { RunRoom } from "./durable/run-room";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
