// Embeds texts through OpenAI's official SDK against a running simtune serve, three ways:
// encoding_format "float", the SDK's default (it asks for base64 and decodes it), and "base64"
// as the server sends it. Prints {"float": [[...]], "default": [[...]], "base64": ["..."],
// "usage": {...}} on stdout.
// Usage: node openai_client.js BASE_URL API_KEY TEXTS_JSON_FILE
const fs = require("fs");
const OpenAI = require("openai");

async function main() {
  const [baseURL, apiKey, textsFile] = process.argv.slice(2);
  const input = JSON.parse(fs.readFileSync(textsFile, "utf8"));
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
  const model = "simtune";
  const asFloat = await client.embeddings.create({ model, input, encoding_format: "float" });
  const byDefault = await client.embeddings.create({ model, input });
  const asBase64 = await client.embeddings.create({ model, input, encoding_format: "base64" });
  const rows = (r) => r.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
  process.stdout.write(JSON.stringify({
    float: rows(asFloat), default: rows(byDefault), base64: rows(asBase64), usage: asFloat.usage,
  }));
}

main().catch((e) => {
  console.error(`openai client: ${e.status || ""} ${e.message}`);
  process.exit(1);
});
