import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { assertPublicUrl, isPublicHost } from "../../src/lib/public-url";
import { retryDelaySeconds } from "../../src/webhooks/deliver";
import { newWebhookSecret, signatureHeaders } from "../../src/webhooks/signing";

describe("public URL check", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fd00::1]",
    "[::ffff:7f00:1]",
    "localhost",
    "api.localhost",
    "metadata.google.internal",
    "printer.local",
    "intranet",
  ])("refuses %s", (host) => {
    expect(isPublicHost(host)).toBe(false);
  });

  it.each(["example.com", "93.184.216.34", "[2606:4700::1111]", "8.8.8.8"])("admits %s", (host) => {
    expect(isPublicHost(host)).toBe(true);
  });

  it("normalises other spellings of loopback through the URL parser", () => {
    for (const url of ["http://2130706433/", "http://0x7f.1/", "http://127.1/"]) {
      expect(() => assertPublicUrl("url", url, { allowLoopback: false })).toThrow(/private, loopback/);
    }
  });

  it("refuses other schemes and credentials, and admits loopback only when allowed", () => {
    expect(() => assertPublicUrl("url", "file:///etc/passwd", { allowLoopback: true })).toThrow(
      /http or https/,
    );
    expect(() => assertPublicUrl("url", "https://u:p@example.com/", { allowLoopback: false })).toThrow(
      /credentials/,
    );
    expect(() => assertPublicUrl("url", "http://127.0.0.1:9000/", { allowLoopback: false })).toThrow();
    expect(assertPublicUrl("url", "http://127.0.0.1:9000/", { allowLoopback: true }).port).toBe("9000");
    expect(() => assertPublicUrl("url", "http://10.0.0.1/", { allowLoopback: true })).toThrow();
  });
});

describe("Standard Webhooks signing", () => {
  it("produces headers the standardwebhooks package verifies, with either secret during a rotation", async () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    expect(current).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const body = JSON.stringify({ type: "run.success", data: { id: "r1" } });
    const headers = await signatureHeaders([current, previous], {
      id: "msg_1",
      timestampSeconds: Math.floor(Date.now() / 1000),
      body,
    });
    expect(headers["webhook-signature"]).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(current).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(current).verify(`${body} `, headers)).toThrow();
  });
});

describe("retry schedule", () => {
  it("grows fivefold with bounded jitter, capped at 12 hours, about a day over 9 attempts", () => {
    const settings = { maxAttempts: 9, baseDelaySeconds: 5, timeoutMs: 10_000 };
    const delays = Array.from({ length: 8 }, (_, i) => retryDelaySeconds(settings, i + 1));
    expect(delays[0]).toBeGreaterThanOrEqual(4);
    expect(delays[0]).toBeLessThanOrEqual(6);
    expect(delays[2]).toBeGreaterThanOrEqual(100);
    expect(delays[2]).toBeLessThanOrEqual(150);
    for (const d of delays) expect(d).toBeLessThanOrEqual(12 * 3600);
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(20 * 3600);
    expect(total).toBeLessThan(40 * 3600);
  });
});
