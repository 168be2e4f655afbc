// Drive ponder's UI message stream with the `ai` package's own client transport and stream
// reader (what useChat uses) and print the chunks and the final UI message as JSON.
// usage: node vercel_client.mjs URL CHAT_ID QUESTION [cancel]   (env PONDER_TOKEN: bearer token)
// With "cancel", the request is aborted at the first line on stdin after the first tool call.
import { createInterface } from "node:readline";
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [url, chatId, question, mode] = process.argv.slice(2);
const token = process.env.PONDER_TOKEN;
const transport = new DefaultChatTransport({
  api: url,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
  body: { include_reasoning: true },
});
const abort = new AbortController();
const lines = mode === "cancel" ? createInterface({ input: process.stdin }) : null;
const out = { chunks: [], errors: [], message: null, thrown: null };
try {
  const stream = await transport.sendMessages({
    chatId,
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: abort.signal,
    messages: [{ id: "user-1", role: "user", parts: [{ type: "text", text: question }] }],
  });
  const [forChunks, forMessages] = stream.tee();
  const collect = (async () => {
    const reader = forChunks.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out.chunks.push(value);
      if (lines && value.type === "tool-input-available") lines.once("line", () => abort.abort());
    }
  })();
  const messages = readUIMessageStream({
    stream: forMessages,
    onError: (error) => out.errors.push(String(error && error.message)),
  });
  for await (const message of messages) out.message = message;
  await collect;
} catch (error) {
  out.thrown = `${error && error.name}: ${error && error.message}`;
}
lines?.close();
console.log(JSON.stringify(out));
