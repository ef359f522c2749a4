// The API key lives in sessionStorage: it survives a reload of the tab, ends with the
// tab, and never appears in a URL (so not in history, logs or a Referer header).
const KEY = "ensemble.apiKey";

export const session = {
  apiKey: (): string | null => sessionStorage.getItem(KEY),
  signIn: (apiKey: string): void => sessionStorage.setItem(KEY, apiKey),
  signOut: (): void => sessionStorage.removeItem(KEY),
};
