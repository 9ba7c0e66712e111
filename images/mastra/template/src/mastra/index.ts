import { Mastra } from '@mastra/core/mastra';
import { PinoLogger } from '@mastra/loggers';
import { LibSQLStore } from '@mastra/libsql';
import { weatherAgent } from './agents/weather-agent';

export const mastra = new Mastra({
  agents: { weatherAgent },
  storage: new LibSQLStore({
    // In memory: nothing persists between dev server restarts. Use file:../mastra.db to keep it.
    url: ':memory:',
  }),
  logger: new PinoLogger({ name: 'Mastra', level: 'info' }),
  // Listen on every interface so the pod's published port reaches the dev server.
  server: { host: '0.0.0.0', port: 4111 },
  telemetry: { enabled: false },
});
