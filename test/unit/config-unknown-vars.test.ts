import t from 'tap';
import { unknownVars } from '../../src/config/unknown-vars.js';

t.test('a misspelt PINACLED_* variable is named with the nearest known one', async (t) => {
  t.same(unknownVars({ PINACLED_FIREWAL: 'off', PINACLED_PORT: '7070', HOME: '/root' }), [{ name: 'PINACLED_FIREWAL', nearest: 'PINACLED_FIREWALL' }]);
  t.same(unknownVars({ PINACLED_STOP_TIMEOUT: '5' }), [{ name: 'PINACLED_STOP_TIMEOUT', nearest: 'PINACLED_STOP_TIMEOUT_S' }]);
});

t.test('known daemon settings and the scripts own variables draw no warning', async (t) => {
  t.same(unknownVars({ PINACLED_DATA_DIR: '/x', PINACLED_SKIP_IMAGES: '1', PINACLED_TEST_IMAGE: 'a:b', OTHER_FIREWAL: 'x' }), []);
});
