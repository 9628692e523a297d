// The part of Tauri's global API (app.withGlobalTauri) the page uses; only api.js touches it.
interface TauriChannel<T> {
  onmessage: (message: T) => void;
}

interface Window {
  __TAURI__: {
    core: {
      invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
      Channel: new <T>() => TauriChannel<T>;
    };
  };
}
