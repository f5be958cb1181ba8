// The console's assets are imported as text (`with { type: "text" }`) and embedded in the executable.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "*/console-app.js" {
  const text: string;
  export default text;
}
