// Load for simtune serve from Node's event loop (lighter on the CPU the server shares than
// Python threads): C concurrent keep-alive clients post single-sentence /embed requests for S
// seconds. Prints {"requests_per_s", "p50_ms", "p99_ms", "errors"}.
// Usage: node bench/serve_load.js PORT SENTENCES_FILE CLIENTS SECONDS
const fs = require("fs");
const http = require("http");

const [port, file, clients, seconds] = process.argv.slice(2);
const sentences = fs.readFileSync(file, "utf8").split("\n").filter((s) => s.trim());
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(clients) });
const stopAt = Date.now() + Number(seconds) * 1000;
const times = [];
let errors = 0;

function one(i) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ inputs: [sentences[i % sentences.length]] });
    const start = process.hrtime.bigint();
    const req = http.request({ port, path: "/embed", method: "POST", agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
    (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode !== 200) errors++;
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        resolve();
      });
    });
    req.on("error", () => { errors++; resolve(); });
    req.end(body);
  });
}

async function client(k) {
  for (let i = k; Date.now() < stopAt; i += Number(clients)) await one(i);
}

(async () => {
  const start = Date.now();
  await Promise.all(Array.from({ length: Number(clients) }, (_, k) => client(k)));
  const elapsed = (Date.now() - start) / 1000;
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ requests_per_s: times.length / elapsed, errors,
    p50_ms: times[Math.floor(times.length / 2)], p99_ms: times[Math.floor(times.length * 0.99)] }));
  agent.destroy();
})();
