import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  path: string,
) => Promise<void>;

export interface HttpRoutes {
  /** "POST /ilp", "GET /settlement/v1/payments/*" (a trailing * matches the rest of the path). */
  [route: string]: RouteHandler;
}

export interface RunningHttpServer {
  server: Server;
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A small node:http server for the ILP and settlement endpoints. Handlers never crash it: an
 * unexpected error becomes a 500 with the message, and bad input is answered 4xx by the handler.
 */
export async function startHttpServer(
  routes: HttpRoutes,
  listen: { host: string; port: number },
): Promise<RunningHttpServer> {
  const exact = new Map<string, RouteHandler>();
  const prefixes: [string, RouteHandler][] = [];
  for (const [route, handler] of Object.entries(routes))
    if (route.endsWith('*')) prefixes.push([route.slice(0, -1), handler]);
    else exact.set(route, handler);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const key = `${req.method} ${url.pathname}`;
    const handler = exact.get(key) ?? prefixes.find(([p]) => key.startsWith(p))?.[1];
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no route ${key}\n`);
      return;
    }
    handler(req, res, url.searchParams, url.pathname).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${(error as Error).message ?? String(error)}\n`);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    server,
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
