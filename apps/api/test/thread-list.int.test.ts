import { TestApi } from "./support/test-api.js";

jest.setTimeout(30_000);

describe("GET /v1/threads: the threads a caller may read", () => {
  let api: TestApi;
  let alice: { userId: string; key: string };
  let bob: { userId: string; key: string };
  let carol: { userId: string; key: string };
  const titles = async (key: string, query = ""): Promise<{ titles: string[]; total: number }> => {
    const res = await api.request<{ items: { title: string }[]; total: number }>(key, "GET", `/v1/threads${query}`);
    expect(res.status).toBe(200);
    return { titles: res.body.items.map((t) => t.title), total: res.body.total };
  };

  beforeAll(async () => {
    api = await TestApi.start({ runFlows: false });
    [alice, bob, carol] = [await api.createUser(), await api.createUser(), await api.createUser()];
    const ids: Record<string, string> = {};
    for (const [title, owner] of [
      ["alice-1", alice],
      ["alice-2", alice],
      ["alice-3", alice],
      ["bob-1", bob],
    ] as const) {
      const res = await api.request<{ id: string }>(owner.key, "POST", "/v1/threads", { title });
      ids[title] = res.body.id;
    }
    const grant = (thread: string, permissions: string[]) =>
      api.request(alice.key, "PUT", `/v1/threads/${ids[thread]}/members/${carol.userId}`, { permissions });
    expect((await grant("alice-1", ["read"])).status).toBe(200);
    expect((await grant("alice-2", ["write"])).status).toBe(200);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("lists what the caller owns, newest first, and never another user's", async () => {
    expect(await titles(alice.key)).toEqual({ titles: ["alice-3", "alice-2", "alice-1"], total: 3 });
    expect(await titles(bob.key)).toEqual({ titles: ["bob-1"], total: 1 });
  });

  it("lists a thread shared with the caller only if they may read it", async () => {
    expect(await titles(carol.key)).toEqual({ titles: ["alice-1"], total: 1 });
  });

  it("pages with limit and offset", async () => {
    expect(await titles(alice.key, "?limit=2")).toEqual({ titles: ["alice-3", "alice-2"], total: 3 });
    expect(await titles(alice.key, "?limit=2&offset=2")).toEqual({ titles: ["alice-1"], total: 3 });
  });

  it("answers 400 naming the bad query field", async () => {
    const res = await api.request<{ error: { code: string; details: { path: string }[] } }>(
      alice.key,
      "GET",
      "/v1/threads?limit=0",
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_error");
    expect(res.body.error.details.map((d) => d.path)).toContain("limit");
  });
});
