/**
 * User agent → browser, OS and device class, with ua-parser-js v1 (MIT; v2 is AGPL, so stay on 1.x).
 * Parsing costs tens of microseconds, and real traffic repeats a few hundred distinct user agents,
 * so results sit in a small LRU keyed by the raw string.
 */
import UAParser from 'ua-parser-js';

export type DeviceClass = 'desktop' | 'mobile' | 'tablet' | 'other';

export interface UserAgentInfo {
  browser: string;
  os: string;
  device: DeviceClass;
}

const UNKNOWN: UserAgentInfo = { browser: '', os: '', device: 'other' };

export function parseUserAgent(ua: string): UserAgentInfo {
  if (ua === '') return UNKNOWN;
  const r = new UAParser(ua).getResult();
  const browser = r.browser.name ?? '';
  const os = r.os.name ?? '';
  return { browser, os, device: deviceClass(r.device.type, browser, os) };
}

function deviceClass(type: string | undefined, browser: string, os: string): DeviceClass {
  switch (type) {
    case 'mobile':
      return 'mobile';
    case 'tablet':
      return 'tablet';
    case undefined:
      // ua-parser-js leaves the type empty for ordinary computers; an agent it recognises
      // nothing of is not evidence of a desktop.
      if (os === 'Android' || os === 'iOS') return 'mobile';
      return browser !== '' || os !== '' ? 'desktop' : 'other';
    default:
      // smarttv, console, wearable, embedded, xr
      return 'other';
  }
}

/** A bounded memo: a Map keeps insertion order, so the first key is the least recently used. */
export function createUserAgentCache(max = 5000): (ua: string) => UserAgentInfo {
  const cache = new Map<string, UserAgentInfo>();
  return (ua) => {
    const hit = cache.get(ua);
    if (hit !== undefined) {
      cache.delete(ua);
      cache.set(ua, hit);
      return hit;
    }
    const info = parseUserAgent(ua);
    cache.set(ua, info);
    if (cache.size > max) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    return info;
  };
}
