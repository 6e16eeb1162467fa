import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now, for servers that must know each other's address before
 * either starts (two settlement nodes peering, a child process told its port).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
