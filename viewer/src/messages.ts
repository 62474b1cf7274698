/** The message line under the header, and the token prompt when the server answers 401. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { setAskingToken, tokenEntered } from './state.js';

const messages = (): HTMLElement => byId('messages');

/** Shows one message (replacing the one before). */
export function say(text: string, kind: 'info' | 'ok' | 'error' = 'info'): void {
  messages().replaceChildren(h('p', { className: kind }, text));
}

/** Shows what failed and why; asks for the API token when the server wants one. */
export function fail(error: unknown, what: string): void {
  const text = error instanceof Error ? error.message : String(error);
  say(`${what}: ${text}`, 'error');
  if (error instanceof api.ApiError && error.status === 401) askToken();
}

/** Asks for the server's API token; once entered, the page reads the server's state again. */
export function askToken(): void {
  if (!setAskingToken(true)) return;
  const value = window.prompt('This server needs an API token (spinegrade serve --token). Token:');
  setAskingToken(false);
  if (value !== null) {
    api.setToken(value.trim());
    tokenEntered();
  }
}
