import { describe, expect, it } from 'vitest';
import { webCategories } from '../../shared/protocol.js';
import { classifyHost, normalizeHost, shippedWebCategories } from '../../shared/web-categories.js';

const all = { categories: [...webCategories], allowedDomains: [] };

describe('classifyHost', () => {
  it('classifies the shipped hosts of every category', () => {
    expect(classifyHost('mail.google.com', all)).toBe('webmail');
    expect(classifyHost('outlook.live.com', all)).toBe('webmail');
    expect(classifyHost('www.facebook.com', all)).toBe('social');
    expect(classifyHost('x.com', all)).toBe('social');
    expect(classifyHost('www.dropbox.com', all)).toBe('personal_cloud');
    expect(classifyHost('drive.google.com', all)).toBe('personal_cloud');
    expect(classifyHost('web.whatsapp.com', all)).toBe('messaging');
    expect(classifyHost('web.telegram.org', all)).toBe('messaging');
    expect(classifyHost('anydesk.com', all)).toBe('remote_access');
    expect(classifyHost('remotedesktop.google.com', all)).toBe('remote_access');
  });

  it('matches subdomains label-wise, never by string suffix', () => {
    expect(classifyHost('foo.mail.google.com', all)).toBe('webmail');
    expect(classifyHost('evilfacebook.com', all)).toBeNull();
    expect(classifyHost('facebook.com.evil.net', all)).toBeNull();
    // google.com itself is not listed: only its mail/drive/docs hosts are.
    expect(classifyHost('www.google.com', all)).toBeNull();
    expect(classifyHost('intranet.example-corp.com', all)).toBeNull();
  });

  it('lets the longest listed suffix decide', () => {
    expect(classifyHost('proton.me', all)).toBe('webmail');
    expect(classifyHost('mail.proton.me', all)).toBe('webmail');
    expect(classifyHost('drive.proton.me', all)).toBe('personal_cloud');
    const extra = { ...all, extraDomains: { 'files.facebook.com': 'personal_cloud' } };
    expect(classifyHost('a.files.facebook.com', extra)).toBe('personal_cloud');
    expect(classifyHost('www.facebook.com', extra)).toBe('social');
  });

  it('never reports allowed domains or their subdomains, whatever the category', () => {
    const options = { ...all, allowedDomains: ['dropbox.com', 'Telegram.org.'] };
    expect(classifyHost('www.dropbox.com', options)).toBeNull();
    expect(classifyHost('dropbox.com', options)).toBeNull();
    expect(classifyHost('web.telegram.org', options)).toBeNull();
    expect(classifyHost('mail.google.com', options)).toBe('webmail');
    // An allowed parent wins over a longer categorised entry.
    const parentAllowed = {
      ...all,
      allowedDomains: ['proton.me'],
      extraDomains: { 'x.drive.proton.me': 'social' },
    };
    expect(classifyHost('x.drive.proton.me', parentAllowed)).toBeNull();
  });

  it('reports only categories the policy monitors', () => {
    const options = { categories: ['webmail'], allowedDomains: [] };
    expect(classifyHost('mail.google.com', options)).toBe('webmail');
    expect(classifyHost('www.facebook.com', options)).toBeNull();
    expect(classifyHost('mail.google.com', { categories: [], allowedDomains: [] })).toBeNull();
  });

  it('adds extra domains, including new categories the policy names', () => {
    const options = {
      categories: ['webmail', 'gambling'],
      allowedDomains: [],
      extraDomains: { 'casino.example': 'gambling', 'mail.example-corp.com': 'webmail' },
    };
    expect(classifyHost('www.casino.example', options)).toBe('gambling');
    expect(classifyHost('MAIL.example-corp.com.', options)).toBe('webmail');
  });

  it('normalises case, trailing dots and IPv6 brackets; ignores empty hosts', () => {
    expect(normalizeHost(' Mail.Google.COM. ')).toBe('mail.google.com');
    expect(normalizeHost('[::1]')).toBe('::1');
    expect(classifyHost('', all)).toBeNull();
    expect(classifyHost('MAIL.GOOGLE.COM', all)).toBe('webmail');
  });

  it('ships only known categories and no duplicate hosts', () => {
    const shipped = shippedWebCategories();
    expect(shipped.size).toBeGreaterThan(60);
    for (const [host, category] of shipped) {
      expect(webCategories as readonly string[]).toContain(category);
      expect(host).toBe(normalizeHost(host));
      expect(host).not.toContain('/');
    }
  });
});
