// A minimal event emitter for the DOM-free modules: on() returns an
// unsubscribe function; a listener that throws does not stop the others.
export class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  emit(name, ...args) {
    for (const fn of [...(this.listeners.get(name) || [])]) {
      try {
        fn(...args);
      } catch (e) {
        if (name !== 'listener-error') this.emit('listener-error', e);
      }
    }
  }
}
