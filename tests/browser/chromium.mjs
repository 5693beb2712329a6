// Debian's Chromium driven by playwright-core (which downloads no browser), started the way
// every browser script here needs it: as root, on a machine with no internet.
import { chromium } from "playwright-core";

/// Hosts a page may reach: this machine only.
export const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/// Starts headless Chromium (CHROMIUM_PATH, else /usr/bin/chromium).
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
