// BullMQ driven the way bench/peers/run.py drives every peer (see bench/peers/__init__.py).
//   node bench.js worker                 one worker, concurrency 50
//   node bench.js reset
//   node bench.js enqueue-single N       prints the seconds it took
//   node bench.js enqueue-bulk N
//   node bench.js timed COUNT RATE       prints the enqueue→result-seen times (ms) as JSON
"use strict";
const { Queue, Worker, QueueEvents } = require("bullmq");
const IORedis = require("ioredis");

const connection = { host: "127.0.0.1", port: 6379, db: 13, maxRetriesPerRequest: null };
const probe = new IORedis({ host: "127.0.0.1", port: 6379, db: 14 });
const NAME = "bench";
// Epoch seconds with sub-millisecond precision (Date.now() has whole milliseconds).
const now = () => (performance.timeOrigin + performance.now()) / 1000;

async function done() {
  const t = now();
  await probe.pipeline().incr("bench:done").set("bench:first", t, "NX").set("bench:last", t).exec();
}

async function main() {
  const [command, a, b] = process.argv.slice(2);
  if (command === "worker") {
    const worker = new Worker(
      NAME,
      async (job) => {
        if (job.name === "noop") return done();
        await probe.rpush("bench:starts", now() - job.data.enqueuedAt);
        return 1;
      },
      { connection, concurrency: 50, removeOnComplete: { count: 1000 } },
    );
    const stop = async () => { await worker.close(); process.exit(0); };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    return;
  }
  const queue = new Queue(NAME, { connection });
  if (command === "reset") {
    const redis = new IORedis(connection);
    await redis.flushdb();
    await redis.quit();
  } else if (command === "enqueue-single") {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < Number(a); i++) await queue.add("noop", {});
    console.log(Number(process.hrtime.bigint() - t0) / 1e9);
  } else if (command === "enqueue-bulk") {
    const n = Number(a);
    const t0 = process.hrtime.bigint();
    for (let start = 0; start < n; start += 1000) {
      const size = Math.min(1000, n - start);
      await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
    }
    console.log(Number(process.hrtime.bigint() - t0) / 1e9);
  } else if (command === "timed") {
    const events = new QueueEvents(NAME, { connection });
    await events.waitUntilReady();
    const seen = [];
    let next = performance.now();
    for (let i = 0; i < Number(a); i++) {
      const t0 = performance.now();
      const job = await queue.add("timed", { enqueuedAt: now() });
      await job.waitUntilFinished(events, 10000);
      seen.push(performance.now() - t0);
      next += 1000 / Number(b);
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    console.log(JSON.stringify(seen));
    await events.close();
  }
  await queue.close();
  await probe.quit();
}

main().catch((err) => { console.error(err); process.exit(1); });
