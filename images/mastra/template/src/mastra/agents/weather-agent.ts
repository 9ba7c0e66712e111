import { Agent } from '@mastra/core/agent';
import { Memory } from '@mastra/memory';
import { LibSQLStore } from '@mastra/libsql';
import { weatherTool } from '../tools/weather-tool';

export const weatherAgent = new Agent({
  name: 'Weather Agent',
  instructions: `
      You are a helpful weather assistant that provides accurate weather information.
      Always ask for a location if none is provided, keep responses concise, and
      use the weatherTool to fetch current weather data.
`,
  model: 'openai/gpt-4o-mini',
  tools: { weatherTool },
  memory: new Memory({
    storage: new LibSQLStore({
      url: 'file:../mastra.db', // relative to the .mastra/output directory
    }),
  }),
});
