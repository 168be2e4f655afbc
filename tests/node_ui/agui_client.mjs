// Drive ponder's AG-UI endpoint with the official @ag-ui/client and print what it saw as JSON.
// usage: node agui_client.mjs URL THREAD_ID QUESTION [cancel]   (env PONDER_TOKEN: bearer token)
// With "cancel", the run is aborted at the first line on stdin after the first tool call.
import { createInterface } from "node:readline";
import { HttpAgent } from "@ag-ui/client";

const [url, threadId, question, mode] = process.argv.slice(2);
const token = process.env.PONDER_TOKEN;
const agent = new HttpAgent({
  url,
  threadId,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
agent.addMessage({ id: "user-1", role: "user", content: question });

const lines = mode === "cancel" ? createInterface({ input: process.stdin }) : null;
const out = { events: [], failed: null, thrown: null, result: null };
const subscriber = {
  onEvent({ event }) {
    out.events.push(event);
    if (lines && event.type === "TOOL_CALL_END") lines.once("line", () => agent.abortRun());
  },
  onRunFailed({ error }) {
    out.failed = String(error && error.message);
  },
};
try {
  const run = await agent.runAgent(
    { runId: "run-1", forwardedProps: { include_reasoning: true } },
    subscriber,
  );
  out.result = run.result ?? null;
} catch (error) {
  out.thrown = `${error && error.name}: ${error && error.message}`;
}
out.messages = agent.messages;
lines?.close();
console.log(JSON.stringify(out));
