/**
 * Bot and headless-browser filtering with `isbot` (its pattern list covers crawlers, monitoring
 * agents, HTTP libraries and headless browsers such as HeadlessChrome and PhantomJS).
 * Live browser traffic without any user agent is a script, not a person, so it counts as a bot too;
 * server-side senders may legitimately omit it, hence the flag.
 */
import { isbot } from 'isbot';

/**
 * isbot runs one large regular expression (several microseconds); real traffic repeats a few
 * hundred user agents, so answers are memoized in a bounded map (cleared when full: cheap, and the
 * common agents are back after a few requests).
 */
const MEMO_MAX = 5000;
const memo = new Map<string, boolean>();

export function isBot(userAgent: string, opts: { emptyIsBot: boolean } = { emptyIsBot: true }): boolean {
  if (userAgent.trim() === '') return opts.emptyIsBot;
  let bot = memo.get(userAgent);
  if (bot === undefined) {
    bot = isbot(userAgent);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(userAgent, bot);
  }
  return bot;
}
