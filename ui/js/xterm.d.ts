// The part of xterm.js 3.8 (ui/vendor/xterm, a plain script that sets window.Terminal) the page
// uses; only views/terminal.js touches it.
interface XtermOptions {
  rendererType?: 'canvas' | 'dom';
  scrollback?: number;
  fontFamily?: string;
  fontSize?: number;
  cursorBlink?: boolean;
  theme?: Record<string, string>;
}

interface XtermTerminal {
  readonly rows: number;
  readonly cols: number;
  readonly element: HTMLElement;
  open(parent: HTMLElement): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  focus(): void;
  reset(): void;
  dispose(): void;
  on(type: 'data', listener: (data: string) => void): void;
  on(type: 'resize', listener: (size: { cols: number; rows: number }) => void): void;
  /** Internal, but the only way 3.8 tells the size of a cell; read by fit() alone. */
  _core: { renderer: { dimensions: { actualCellWidth: number; actualCellHeight: number } } };
}

interface Window {
  Terminal: new (options?: XtermOptions) => XtermTerminal;
}
