/** The scenarios shipped in scenarios/, bundled into the lab page, parsed and sorted by name. */
import { type Scenario, parseScenario } from '../sim/scenario.ts';

const files = import.meta.glob<unknown>('../../scenarios/*.json', { eager: true, import: 'default' });

export interface ShippedScenario {
  file: string;
  scenario: Scenario;
}

export const SHIPPED: ShippedScenario[] = Object.entries(files)
  .flatMap(([path, json]) => {
    try {
      return [{ file: path.split('/').pop() ?? path, scenario: parseScenario(json) }];
    } catch {
      return []; // a broken file is the CLI's business; the lab lists the good ones
    }
  })
  .sort((a, b) => a.scenario.name.localeCompare(b.scenario.name));
