// The console's one refresh in flight (api.js with session.js), under Node's own test
// runner: fetch is a stand-in for the service that refuses the old access token with 401.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { call } from "../../src/shopapi/console/static/api.js";
import { session } from "../../src/shopapi/console/static/session.js";

const PROBLEM = { "Content-Type": "application/problem+json" };

/** A few turns of the event loop: time for every request waiting on a 401 to act. */
async function settle() {
  for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A service whose access token "old" has run out. The first `together` requests with it
 * are answered 401 at once, all of them; the refresh is answered `refreshAnswer` only
 * after the others had time to ask for one too. `held[path]`: a promise that the 401 to
 * that path waits for (an answer slow on the way).
 */
function service({ together, refreshAnswer, held = {} }) {
  const seen = { refreshes: [], requests: [] };
  let waiting = [];
  globalThis.fetch = async (path, init) => {
    if (path === "/auth/refresh") {
      seen.refreshes.push(JSON.parse(init.body));
      await settle();
      return refreshAnswer();
    }
    const token = init.headers.Authorization;
    seen.requests.push([path, token]);
    if (token === "Bearer old") {
      const refused = new Promise((resolve) => waiting.push(resolve));
      if (waiting.length === together) {
        for (const resolve of waiting) resolve();
        waiting = [];
      }
      await refused;
      await held[path];
      return new Response(JSON.stringify({ title: "Unauthorized", status: 401, detail: "The token has expired." }),
        { status: 401, headers: PROBLEM });
    }
    return Response.json({ path });
  };
  return seen;
}

const PATHS = ["/api/products", "/auth/me", "/auth/sessions"];

beforeEach(() => {
  session.start({ access_token: "old", refresh_token: "refresh-1" });
});

test("requests refused with 401 together cause exactly one refresh, then each is sent again", async () => {
  const seen = service({
    together: PATHS.length,
    refreshAnswer: () => Response.json({ access_token: "new", refresh_token: "refresh-2" }),
  });
  const answers = await Promise.all(PATHS.map((path) => call("GET", path)));

  assert.deepEqual(seen.refreshes, [{ refresh_token: "refresh-1" }]);
  assert.deepEqual(answers.map((a) => [a.status, a.body.path]), PATHS.map((path) => [200, path]));
  for (const path of PATHS) {
    assert.deepEqual(seen.requests.filter(([p]) => p === path).map(([, token]) => token), ["Bearer old", "Bearer new"]);
  }
  assert.equal(session.token, "new");
  assert.equal(session.refreshToken, "refresh-2");
});

test("when the one refresh is refused, every request fails with 401 and the session is over", async () => {
  const seen = service({
    together: PATHS.length,
    refreshAnswer: () => new Response(JSON.stringify({ title: "Unauthorized", status: 401 }), { status: 401, headers: PROBLEM }),
  });
  const ends = [];
  const stop = session.onChange((reason) => ends.push(reason));
  const results = await Promise.allSettled(PATHS.map((path) => call("GET", path)));
  stop();

  assert.equal(seen.refreshes.length, 1);
  assert.deepEqual(results.map((r) => [r.status, r.reason?.status]), PATHS.map(() => ["rejected", 401]));
  assert.equal(seen.requests.length, PATHS.length, "nothing is sent again without new tokens");
  assert.equal(session.signedIn, false);
  assert.deepEqual(ends, ["expired"]);
});

test("a 401 that arrives after the refresh is done sends again with the new token, no second refresh", async () => {
  let release;
  const slow = new Promise((resolve) => {
    release = resolve;
  });
  const seen = service({
    together: 1,
    refreshAnswer: () => Response.json({ access_token: "new", refresh_token: "refresh-2" }),
    held: { "/auth/me": slow },
  });
  const late = call("GET", "/auth/me"); // sent with "old"; its 401 is on the way
  const first = await call("GET", "/api/products"); // refused, refreshed, sent again
  release();

  assert.equal(first.status, 200);
  assert.equal((await late).status, 200);
  assert.deepEqual(seen.refreshes, [{ refresh_token: "refresh-1" }]);
  assert.deepEqual(seen.requests.filter(([p]) => p === "/auth/me").map(([, token]) => token), ["Bearer old", "Bearer new"]);
});
