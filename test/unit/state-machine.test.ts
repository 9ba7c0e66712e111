import t from 'tap';
import { TRANSITIONAL, TRANSITIONS, canTransition, isTransitional } from '../../src/pods/state.js';
import { POD_STATES, type PodState } from '../../src/pods/types.js';

t.test('the table covers every state and names only known states', async (t) => {
  t.same(Object.keys(TRANSITIONS).sort(), [...POD_STATES].sort());
  for (const [from, tos] of Object.entries(TRANSITIONS)) {
    for (const to of tos) t.ok(POD_STATES.includes(to), `${from} -> ${to} is a known state`);
    t.notOk(tos.includes(from as PodState), `${from} does not list itself (staying is always allowed)`);
  }
});

t.test('transitional states', async (t) => {
  t.same([...TRANSITIONAL].sort(), ['creating', 'deleting', 'starting', 'stopping']);
  t.ok(isTransitional('creating'));
  t.notOk(isTransitional('running'));
  t.notOk(isTransitional('failed'));
});

t.test('what may and may not happen', async (t) => {
  const allowed: [PodState, PodState][] = [
    ['creating', 'running'], // a create settles straight from creating
    ['creating', 'stopped'], // ... or stopped when the command exited at once
    ['running', 'stopping'],
    ['stopping', 'stopped'],
    ['stopped', 'starting'],
    ['failed', 'starting'], // start recreates a container that vanished
    ['running', 'stopped'], // a process exit seen by the engine
    ['deleting', 'failed'],
    ['running', 'running'],
  ];
  const refused: [PodState, PodState][] = [
    ['deleting', 'running'], // a delete is never undone
    ['deleting', 'starting'],
    ['deleting', 'stopped'],
    ['stopped', 'stopping'],
    ['failed', 'stopping'],
    ['stopping', 'starting'],
    ['creating', 'starting'],
    ['running', 'creating'],
  ];
  for (const [a, b] of allowed) t.ok(canTransition(a, b), `${a} -> ${b} allowed`);
  for (const [a, b] of refused) t.notOk(canTransition(a, b), `${a} -> ${b} refused`);
  for (const s of POD_STATES) t.notOk(canTransition(s, 'creating') && s !== 'creating', `nothing goes back to creating (${s})`);
});
