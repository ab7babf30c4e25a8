/** The dashboard's public routes over real HTTP: the page and its assets load without a key; other methods are 405. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createDashboardRouter } from './routes';

describe('dashboard routes', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = await new Promise<Server>((resolve) => {
      const listening = express().use(createDashboardRouter()).listen(0, '127.0.0.1', () => resolve(listening));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('when the page and the chart library are fetched, then both load', async () => {
    const page = await fetch(`${url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${url}/dashboard/chart.umd.js`)).status).toBe(200);
  });

  it.each(['PUT', 'POST', 'DELETE'])('when the page gets %s, then 405 problem with Allow', async (method) => {
    const response = await fetch(`${url}/dashboard`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(await response.json()).toMatchObject({ type: '/problems/method-not-allowed', status: 405 });
  });
});
