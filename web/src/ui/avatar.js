// A round avatar with initials in the person's colour and, for people, a
// presence dot.
import { h } from './dom.js';
import { hue, initials } from './format.js';

export function avatar(name, { presence = null, group = false, size = '' } = {}) {
  const el = h('span', {
    class: `avatar ${group ? 'group' : ''} ${size}`,
    style: { '--h': hue(name) },
    'aria-hidden': 'true',
  }, group ? '#' : initials(name));
  if (presence !== null) {
    el.appendChild(h('span', { class: `dot ${presence || 'offline'}`, 'data-presence': presence || 'offline' }));
  }
  return el;
}
