/**
 * Bot and headless-browser filtering with `isbot` (its pattern list covers crawlers, monitoring
 * agents, HTTP libraries and headless browsers such as HeadlessChrome and PhantomJS).
 * Live browser traffic without any user agent is a script, not a person, so it counts as a bot too;
 * server-side senders may legitimately omit it, hence the flag.
 */
import { isbot } from 'isbot';

export function isBot(userAgent: string, opts: { emptyIsBot: boolean } = { emptyIsBot: true }): boolean {
  if (userAgent.trim() === '') return opts.emptyIsBot;
  return isbot(userAgent);
}
