import { describe, expect, it } from 'vitest';
import { isBot } from '../src/enrich/bot.ts';
import { createUserAgentCache, parseUserAgent } from '../src/enrich/user-agent.ts';

const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  androidChrome:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  headless:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  curl: 'curl/8.5.0',
};

describe('user agent parsing', () => {
  it('recognises desktop Chrome on Windows', () => {
    expect(parseUserAgent(UA.chromeWindows)).toEqual({ browser: 'Chrome', os: 'Windows', device: 'desktop' });
  });
  it('classifies an iPhone as mobile and an iPad as tablet', () => {
    expect(parseUserAgent(UA.safariIphone)).toMatchObject({ os: 'iOS', device: 'mobile' });
    expect(parseUserAgent(UA.ipad).device).toBe('tablet');
  });
  it('classifies Android phones as mobile and Linux Firefox as desktop', () => {
    expect(parseUserAgent(UA.androidChrome)).toMatchObject({ os: 'Android', device: 'mobile' });
    expect(parseUserAgent(UA.firefoxLinux)).toEqual({ browser: 'Firefox', os: 'Linux', device: 'desktop' });
  });
  it('calls an empty or unrecognisable agent "other", not desktop', () => {
    expect(parseUserAgent('')).toEqual({ browser: '', os: '', device: 'other' });
    expect(parseUserAgent('🙂 totally unknown').device).toBe('other');
  });
  it('caches results without growing past its bound', () => {
    const parse = createUserAgentCache(2);
    const a = parse(UA.chromeWindows);
    expect(parse(UA.chromeWindows)).toBe(a);
    parse(UA.firefoxLinux);
    parse(UA.safariIphone);
    // the first entry was evicted, so a new object is built
    expect(parse(UA.chromeWindows)).not.toBe(a);
    expect(parse(UA.chromeWindows)).toEqual(a);
  });
});

describe('bot filtering', () => {
  it('flags crawlers, HTTP libraries and headless browsers', () => {
    expect(isBot(UA.googlebot)).toBe(true);
    expect(isBot(UA.curl)).toBe(true);
    expect(isBot(UA.headless)).toBe(true);
  });
  it('lets real browsers through', () => {
    for (const ua of [UA.chromeWindows, UA.safariIphone, UA.firefoxLinux, UA.androidChrome]) {
      expect(isBot(ua)).toBe(false);
    }
  });
  it('treats a missing user agent as a bot only when asked to', () => {
    expect(isBot('')).toBe(true);
    expect(isBot('  ', { emptyIsBot: false })).toBe(false);
  });
});
