// An OpenAI-compatible Chat Completions endpoint on 127.0.0.1 over a real GGUF model,
// for `make test-model` (issue 11). Not a product: the smallest server that lets Baton's
// `openai` provider talk to a real model offline.
//
//   node server.mjs --model PATH.gguf [--port N] [--threads N] [--context N]
//
// (or BATON_MODEL_GGUF, BATON_MODEL_PORT, BATON_MODEL_THREADS, BATON_MODEL_CONTEXT).
// Port 0 (the default) takes a free port; the server prints exactly one line on stdout
// when it is ready, `listening http://127.0.0.1:PORT/v1`, and logs each request on
// stderr. It binds the loopback interface only.
//
// Endpoints: GET /v1/models, GET /health, POST /v1/chat/completions with
// `response_format` {type: "json_schema", json_schema: {schema}} (the schema becomes a
// llama.cpp grammar: the model can only write JSON that matches it), {type:
// "json_object"} or none (free text); `max_tokens` / `max_completion_tokens`,
// `temperature`, `top_p`, `seed`, `stop`. The reply has the OpenAI shape, with `usage`
// counted by the context sequence's token meter. Requests run one at a time (one
// context sequence).
//
// node-llama-cpp uses its prebuilt CPU binary (@node-llama-cpp/linux-x64) and is told
// never to build llama.cpp from source nor download anything (build: "never",
// skipDownload, gpu: false); the model is a local file, never fetched.

import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";

process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";
const { getLlama, LlamaChatSession, LlamaLogLevel } = await import("node-llama-cpp");

const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1 << 20;
const DEFAULT_MAX_TOKENS = 512; // a request that sets none still ends

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: process.env.BATON_MODEL_GGUF ?? "" },
    port: { type: "string", default: process.env.BATON_MODEL_PORT ?? "0" },
    threads: { type: "string", default: process.env.BATON_MODEL_THREADS ?? "1" },
    context: { type: "string", default: process.env.BATON_MODEL_CONTEXT ?? "2048" },
  },
});

function fail(message) {
  process.stderr.write(`model server: ${message}\n`);
  process.exit(2);
}

if (!args.model) fail("no model: pass --model PATH.gguf or set BATON_MODEL_GGUF");
if (!fs.existsSync(args.model)) fail(`no such model file: ${args.model}`);
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port: ${args.port}`);

const started = performance.now();
const llama = await getLlama({
  gpu: false,
  build: "never",
  skipDownload: true,
  usePrebuiltBinaries: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
  maxThreads: Number(args.threads),
});
const model = await llama.loadModel({ modelPath: path.resolve(args.model) });
const context = await model.createContext({ contextSize: Number(args.context), sequences: 1 });
const sequence = context.getSequence();
const modelName = path.basename(args.model, ".gguf");
const loadMs = performance.now() - started;

const grammars = new Map(); // schema JSON text -> LlamaGrammar (built once each)
let queue = Promise.resolve(); // one request at a time on the one sequence

class BadRequest extends Error {}

async function grammarFor(responseFormat) {
  if (responseFormat == null || responseFormat.type === "text") return undefined;
  if (responseFormat.type === "json_object") return llama.getGrammarFor("json");
  if (responseFormat.type !== "json_schema") {
    throw new BadRequest(`unsupported response_format.type: ${JSON.stringify(responseFormat.type)}`);
  }
  const schema = responseFormat.json_schema?.schema;
  if (schema == null || typeof schema !== "object") {
    throw new BadRequest("response_format.json_schema.schema must be an object");
  }
  const key = JSON.stringify(schema);
  if (!grammars.has(key)) {
    try {
      grammars.set(key, await llama.createGrammarForJsonSchema(schema));
    } catch (error) {
      throw new BadRequest(`cannot make a grammar of this schema: ${error.message}`);
    }
  }
  return grammars.get(key);
}

function text(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part?.text ?? "").join("");
  return "";
}

// OpenAI messages -> node-llama-cpp chat history + the last user message (the prompt).
function conversation(messages) {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest("messages must be a non-empty array");
  }
  const last = messages[messages.length - 1];
  if (last?.role !== "user") throw new BadRequest("the last message must be the user's");
  const history = messages.slice(0, -1).map((message) => {
    const body = text(message?.content);
    switch (message?.role) {
      case "system":
      case "developer":
        return { type: "system", text: body };
      case "user":
        return { type: "user", text: body };
      case "assistant":
        return { type: "model", response: [body] };
      default:
        throw new BadRequest(`unsupported message role: ${JSON.stringify(message?.role)}`);
    }
  });
  return { history, prompt: text(last.content) };
}

async function complete(body) {
  const grammar = await grammarFor(body.response_format);
  const { history, prompt } = conversation(body.messages);
  const stop = body.stop == null ? [] : [].concat(body.stop);
  await sequence.clearHistory(); // every request is evaluated whole: usage counts all of it
  const before = sequence.tokenMeter.getState();
  const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
  try {
    session.setChatHistory(history);
    const result = await session.promptWithMeta(prompt, {
      grammar,
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
      temperature: body.temperature ?? 0,
      topP: body.top_p ?? undefined,
      seed: body.seed ?? undefined,
      customStopTriggers: stop.length ? stop : undefined,
    });
    const used = sequence.tokenMeter.diff(before);
    return {
      content: result.responseText,
      finish: result.stopReason === "maxTokens" ? "length" : "stop",
      usage: { prompt_tokens: used.usedInputTokens, completion_tokens: used.usedOutputTokens },
    };
  } finally {
    session.dispose({ disposeSequence: false });
  }
}

function send(response, status, payload, requestId) {
  const data = JSON.stringify(payload);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(data),
    ...(requestId ? { "x-request-id": requestId } : {}),
  });
  response.end(data);
}

function error(response, status, message, type = "invalid_request_error") {
  send(response, status, { error: { message, type, param: null, code: null } });
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest("request body too large"));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

async function chatCompletions(request, response) {
  let body;
  try {
    body = JSON.parse(await readBody(request));
  } catch (problem) {
    return error(response, 400, problem instanceof BadRequest ? problem.message : "the body is not JSON");
  }
  if (body == null || typeof body !== "object") return error(response, 400, "the body must be an object");
  const requestId = `req_${crypto.randomUUID().replaceAll("-", "")}`;
  const t0 = performance.now();
  const run = queue.then(() => complete(body));
  queue = run.catch(() => {});
  let answer;
  try {
    answer = await run;
  } catch (problem) {
    if (problem instanceof BadRequest) return error(response, 400, problem.message);
    process.stderr.write(`model server: ${problem?.stack ?? problem}\n`);
    return error(response, 500, `the model failed: ${problem?.message ?? problem}`, "server_error");
  }
  const ms = performance.now() - t0;
  process.stderr.write(
    `model server: ${requestId} ${ms.toFixed(0)} ms, ${answer.usage.prompt_tokens} in, ` +
      `${answer.usage.completion_tokens} out, finish ${answer.finish}, ` +
      `idempotency-key ${request.headers["idempotency-key"] ?? "-"}\n`,
  );
  send(
    response,
    200,
    {
      id: `chatcmpl-${requestId.slice(4)}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: modelName,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: answer.content, refusal: null },
          finish_reason: answer.finish,
          logprobs: null,
        },
      ],
      usage: {
        ...answer.usage,
        total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens,
      },
    },
    requestId,
  );
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url, `http://${HOST}`);
  const route = `${request.method} ${url.pathname.replace(/\/+$/, "")}`;
  if (route === "POST /v1/chat/completions") {
    chatCompletions(request, response).catch((problem) => {
      process.stderr.write(`model server: ${problem?.stack ?? problem}\n`);
      if (!response.headersSent) error(response, 500, "internal error", "server_error");
    });
  } else if (route === "GET /v1/models") {
    send(response, 200, { object: "list", data: [{ id: modelName, object: "model", owned_by: "local" }] });
  } else if (route === "GET /health") {
    send(response, 200, { status: "ok", model: modelName, load_ms: Math.round(loadMs) });
  } else {
    error(response, 404, `no route ${route}`);
  }
});

async function shutdown() {
  server.close();
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.listen(port, HOST, () => {
  const bound = server.address().port;
  process.stderr.write(`model server: ${modelName} loaded in ${loadMs.toFixed(0)} ms\n`);
  process.stdout.write(`listening http://${HOST}:${bound}/v1\n`);
});
