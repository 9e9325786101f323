/**
 * What the auth code records about a client: address prefix and hash (never the full address), user
 * agent, and country.
 *
 * Country: the api must not import the collector's internals, so it has its own tiny lookup over the
 * same data family the collector uses (GeoLite2 repackaged by ip-location-db, read with mmdb-lib),
 * but the country-only file (9 MB instead of the collector's 45 MB city files), loaded on first use.
 * Behind a proxy that already knows the country (Cloudflare's CF-IPCountry, a GeoIP module), set
 * AUTH_COUNTRY_HEADER instead: the header wins and the database is never loaded.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { Reader, type Response } from 'mmdb-lib';

export interface ClientInfo {
  ip: string;
  ipHash: string;
  ipPrefix: string;
  userAgent: string;
  country: string;
}

export type CountryOf = (ip: string, headers: Record<string, string | string[] | undefined>) => string;

const MAX_UA = 256;

function unmap(ip: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
}

/** IPv4 → its /24, IPv6 → its /48: enough to recognise a network, not a household. */
export function ipPrefix(address: string): string {
  const ip = unmap(address);
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip)) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const full = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return `${full
      .slice(0, 3)
      .map((g) => g.replace(/^0+(?=.)/, ''))
      .join(':')}::/48`;
  }
  return '';
}

export function clientInfo(
  ip: string,
  headers: Record<string, string | string[] | undefined>,
  countryOf: CountryOf,
): ClientInfo {
  const ua = headers['user-agent'];
  return {
    ip,
    ipHash: createHash('sha256').update(unmap(ip)).digest('hex'),
    ipPrefix: ipPrefix(ip),
    userAgent: (Array.isArray(ua) ? (ua[0] ?? '') : (ua ?? '')).slice(0, MAX_UA),
    country: countryOf(ip, headers),
  };
}

const COUNTRY = /^[A-Z]{2}$/;

/** Country from a header set by a trusted proxy (any other value than two letters counts as none). */
export function countryFromHeader(name: string): CountryOf {
  const key = name.toLowerCase();
  return (_ip, headers) => {
    const v = headers[key];
    const text = (Array.isArray(v) ? v[0] : v)?.trim().toUpperCase() ?? '';
    return COUNTRY.test(text) && text !== 'XX' ? text : '';
  };
}

/** Country from the offline GeoLite2 country database, loaded at the first lookup. */
export function countryFromGeoIp(): CountryOf {
  let reader: Reader<Response> | null = null;
  return (address) => {
    const ip = unmap(address);
    if (!isIPv4(ip) && !isIPv6(ip)) return '';
    if (reader === null) {
      const require = createRequire(import.meta.url);
      const dir = dirname(require.resolve('@ip-location-db/geolite2-country-mmdb/package.json'));
      reader = new Reader<Response>(readFileSync(join(dir, 'geolite2-country.mmdb')));
    }
    try {
      const rec = reader.get(ip) as { country_code?: string } | null;
      return rec?.country_code ?? '';
    } catch {
      return '';
    }
  };
}

export const noCountry: CountryOf = () => '';
