import { connect, type Socket } from "node:net";

/** A raw TCP connection to 127.0.0.1:port that says nothing, and whether the server has closed it. */
export const openRawSocket = (port: number) =>
  new Promise<{ socket: Socket; closed: () => boolean }>((resolve) => {
    let closed = false;
    const socket = connect(port, "127.0.0.1", () => resolve({ socket, closed: () => closed }));
    socket.on("close", () => (closed = true));
    socket.on("error", () => {});
  });
