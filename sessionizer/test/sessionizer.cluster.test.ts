/**
 * The sessionizer service's integration tests (sessionizer.int.test.ts: merges and moved starts
 * corrected, restarts, the commit following the stream) unchanged against the local clusters.
 */
import './sessionizer.int.test.ts';
