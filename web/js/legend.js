// The legend under a seat map: one entry per price category (colour, name, price, seats left)
// and one per seat state, drawn with the same shapes as the map. It reads counts from the map.

import { drawSwatch, KIND } from './seatmap.js';
import { el } from './util.js';

export class Legend {
  /** host: container; map: SeatMap; money(cents) -> text; states: [[kind, label], ...]. */
  constructor(host, map, money, states) {
    this.host = host;
    this.map = map;
    this.money = money;
    this.states = states;
    this.leftNodes = [];
  }

  render() {
    const cats = this.map.categories;
    this.host.replaceChildren();
    this.leftNodes = [];
    const catGroup = el('div', { class: 'legend-group', role: 'list', 'aria-label': 'Price categories' });
    cats.forEach((c) => {
      const sw = el('canvas', { 'aria-hidden': 'true' });
      drawSwatch(sw, KIND.EMPTY, c.color);
      const left = el('span', { class: 'left' });
      this.leftNodes.push(left);
      catGroup.append(el('div', { class: 'legend-item', role: 'listitem' }, sw,
        el('span', { text: c.name }), el('span', { class: 'price', text: this.money(c.price) }), left));
    });
    const stateGroup = el('div', { class: 'legend-group', role: 'list', 'aria-label': 'Seat states' });
    for (const [kind, label] of this.states) {
      const sw = el('canvas', { 'aria-hidden': 'true' });
      drawSwatch(sw, kind, '#888');
      stateGroup.append(el('div', { class: 'legend-item', role: 'listitem' }, sw, el('span', { text: label })));
    }
    this.host.append(catGroup, el('span', { class: 'legend-sep', 'aria-hidden': 'true' }), stateGroup);
    this.update();
  }

  /** Refreshes "N left" per category; returns the counts. */
  update() {
    const counts = this.map.counts();
    counts.empty.forEach((n, i) => {
      if (this.leftNodes[i]) this.leftNodes[i].textContent = `· ${n.toLocaleString()} left`;
    });
    return counts;
  }
}
