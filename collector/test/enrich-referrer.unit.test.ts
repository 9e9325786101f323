import { describe, expect, it } from 'vitest';
import { classifySource, classifySourceMemo } from '../src/enrich/referrer.ts';

const page = 'https://example.com/pricing';

describe('referrer and UTM classification', () => {
  it.each([
    ['https://www.google.com/', 'google', 'organic', 'search'],
    ['https://www.google.co.uk/search?q=x', 'google', 'organic', 'search'],
    ['https://www.bing.com/', 'bing', 'organic', 'search'],
    ['https://duckduckgo.com/', 'duckduckgo', 'organic', 'search'],
    ['https://l.facebook.com/l.php?u=x', 'facebook', 'social', 'social'],
    ['https://t.co/abc', 'twitter', 'social', 'social'],
    ['https://news.ycombinator.com/item?id=1', 'hacker news', 'social', 'social'],
    ['https://old.reddit.com/r/x', 'reddit', 'social', 'social'],
    ['https://mail.google.com/', 'gmail', 'email', 'email'],
    ['android-app://com.google.android.gm/', 'gmail', 'email', 'email'],
    ['https://blog.other.org/post', 'blog.other.org', 'referral', 'referral'],
  ])('classifies referrer %s as source %s, medium %s, channel %s', (ref, source, medium, channel) => {
    expect(classifySource(page, ref)).toMatchObject({ source, medium, channel });
  });

  it('reports no referrer as direct', () => {
    expect(classifySource(page, '')).toMatchObject({
      source: '(direct)',
      medium: '(none)',
      channel: 'direct',
      referrer: '',
      referrer_host: '',
    });
  });

  it('treats navigation within the site as direct, not as a referral from itself', () => {
    expect(classifySource(page, 'https://www.example.com/')).toMatchObject({
      channel: 'direct',
      referrer_host: '',
    });
  });

  it('keeps the referrer host without www', () => {
    expect(classifySource(page, 'https://www.other.org/a?b=c')).toMatchObject({
      referrer: 'https://www.other.org/a?b=c',
      referrer_host: 'other.org',
    });
  });

  it('ignores a referrer that is not a URL', () => {
    expect(classifySource(page, 'not a url')).toMatchObject({ channel: 'direct', referrer: '' });
  });

  it('parses UTM parameters and lets them win over the referrer', () => {
    const r = classifySource(
      'https://example.com/?utm_source=Newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero&utm_term=shoes',
      'https://www.google.com/',
    );
    expect(r).toMatchObject({
      source: 'newsletter',
      medium: 'email',
      channel: 'email',
      campaign: 'spring',
      utm_source: 'Newsletter',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_content: 'hero',
      utm_term: 'shoes',
      referrer_host: 'google.com',
    });
  });

  it('classifies paid media and ad click ids as paid', () => {
    expect(classifySource('https://example.com/?utm_source=google&utm_medium=cpc', '').channel).toBe('paid');
    expect(classifySource('https://example.com/?gclid=abc', 'https://www.google.com/')).toMatchObject({
      source: 'google',
      medium: 'cpc',
      channel: 'paid',
    });
  });

  it('uses a known utm_source to find the channel when the medium is missing', () => {
    expect(classifySource('https://example.com/?utm_source=facebook', '').channel).toBe('social');
    expect(classifySource('https://example.com/?utm_source=partner-site', '').channel).toBe('referral');
  });

  it('answers from its memo exactly what a fresh classification answers, for pages and referrers that differ in host, path, query and case', () => {
    const pages = [
      'https://example.com/pricing',
      'https://www.example.com/other/path',
      'https://shop.example.com/?utm_source=Newsletter&utm_medium=EMAIL',
      'https://example.com/?gclid=abc',
      'https://example.com/a?utm_source=google',
      `https://example.com/?utm_campaign=${'x'.repeat(600)}`,
    ];
    const referrers = [
      '',
      'https://www.google.com/',
      'https://example.com/x',
      'https://WWW.Example.com/',
      'not a url',
    ];
    for (let round = 0; round < 2; round++) {
      for (const page of pages) {
        for (const ref of referrers) {
          expect(classifySourceMemo(new URL(page), ref)).toEqual(classifySource(page, ref));
        }
      }
    }
  });
});
