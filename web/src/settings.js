// The operator's settings, kept in localStorage: the token (viewer or admin)
// and the name recorded in the audit log with each change.
const KEY = 'heteroaccel.settings';

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || '{}');
    return { token: String(s.token || ''), user: String(s.user || '') };
  } catch {
    return { token: '', user: '' };
  }
}

export const settings = load();

export function saveSettings(next) {
  settings.token = (next.token ?? settings.token).trim();
  settings.user = (next.user ?? settings.user).trim();
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Private windows may refuse storage: the settings last for the page.
  }
}

// Headers for every API call: the token when there is one, and the name.
export function authHeaders() {
  const h = {};
  if (settings.token) h.Authorization = `Bearer ${settings.token}`;
  if (settings.user) h['X-HeteroAccel-User'] = settings.user;
  return h;
}
