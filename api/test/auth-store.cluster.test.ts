/**
 * The dashboard accounts' store (auth-store.int.test.ts: users, grants, sign-in sessions, activity and
 * audit read back the latest rows, revocations win) unchanged against the local clusters, where these
 * small tables are one replicated copy on every server.
 */
import './auth-store.int.test.ts';
