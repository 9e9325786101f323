import { describe, expect, it } from 'vitest';
import { createGeoLookup } from '../src/enrich/geo.ts';

describe('offline GeoIP lookup', () => {
  const geo = createGeoLookup();

  it('finds the country and region of IPv4 addresses', () => {
    // MaxMind's own test addresses sit in Great Britain.
    expect(geo('81.2.69.160')).toEqual({ country: 'GB', region: 'England' });
    expect(geo('8.8.8.8').country).toBe('US');
  });

  it('finds IPv6 addresses and IPv4-mapped IPv6 addresses', () => {
    expect(geo('2001:4860:4860::8888').country).toBe('US');
    expect(geo('::ffff:81.2.69.160').country).toBe('GB');
  });

  it('returns empty strings for private, loopback and malformed addresses', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '::1', 'not-an-ip', '']) {
      expect(geo(ip)).toEqual({ country: '', region: '' });
    }
  });
});
