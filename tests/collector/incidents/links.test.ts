import { describe, expect, it } from 'vitest';
import { incidentConsoleUrl, publicBaseUrl } from '../../../collector/incidents/links.js';

describe('console links in notifications', () => {
  const machine = () => 'cc-collector-01';

  it('uses https when the collector serves TLS, and the port it really listens on', () => {
    const base = publicBaseUrl(
      { host: '10.0.0.5', port: 0, tls: { certFile: 'c', keyFile: 'k' } },
      {
        address: '10.0.0.5',
        family: 'IPv4',
        port: 8443,
      },
    );
    expect(base).toBe('https://10.0.0.5:8443');
  });

  it('never links to a wildcard listen address', () => {
    expect(publicBaseUrl({ host: '0.0.0.0', port: 8080 }, null, machine)).toBe('http://cc-collector-01:8080');
    expect(publicBaseUrl({ host: '::', port: 8080 }, null, machine)).toBe('http://cc-collector-01:8080');
    expect(publicBaseUrl({ host: '::', port: 8080 }, null, () => '')).toBe('http://127.0.0.1:8080');
    expect(publicBaseUrl({ host: '::1', port: 8080 })).toBe('http://[::1]:8080');
  });

  it('builds the console incident page from --public-url, with or without /console', () => {
    for (const publicUrl of [
      'https://vigil.example.com',
      'https://vigil.example.com/',
      'https://vigil.example.com/console',
    ]) {
      expect(incidentConsoleUrl(publicBaseUrl({ publicUrl, host: '0.0.0.0', port: 1 }), 'abc')).toBe(
        'https://vigil.example.com/console/incidents/abc',
      );
    }
  });
});
