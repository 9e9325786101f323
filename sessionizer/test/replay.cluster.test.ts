/**
 * `stint replay` (replay.int.test.ts: a changed gap rebuilds a site's sessions from the stored events,
 * ids that no longer exist tombstoned, events re-tagged) unchanged against the local clusters: it reads sessions and events with
 * FINAL through the Distributed tables and writes new versions to the shard of each visitor.
 */
import './replay.int.test.ts';
