/**
 * Jars from Maven Central for the JVM servers of the local stack (Kafka, ZooKeeper): a pom in infra/
 * names them, `mvn dependency:copy-dependencies` copies them into a libs folder once, and a stamp
 * (the pom's hash) lets later runs reuse them while the pom is unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { run, which } from './process.ts';

export function ensureMavenJars(o: {
  pom: string;
  libs: string;
  what: string;
  log: (m: string) => void;
}): string {
  const stamp = `${o.libs}/.pom-sha256`;
  const pomHash = createHash('sha256').update(readFileSync(o.pom)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === pomHash) return o.libs;
  if (!which('mvn'))
    throw new Error(`mvn not found: install Maven (Debian: apt-get install maven) to fetch ${o.what}`);
  o.log(`resolving ${o.what} jars with Maven (first run only)…`);
  mkdirSync(o.libs, { recursive: true });
  run(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      o.pom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${o.libs}`,
      '-DincludeScope=runtime',
    ],
    `Maven could not resolve the ${o.what} jars`,
    { quiet: true },
  );
  writeFileSync(stamp, pomHash);
  return o.libs;
}

export function javaCommand(): string {
  if (process.env.JAVA_HOME) return `${process.env.JAVA_HOME}/bin/java`;
  const java = which('java');
  if (!java)
    throw new Error('java not found: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)');
  return java;
}
