// The lightest Probot app there is: it subscribes to the event the benchmark sends and does nothing, so
// what is measured is Probot's own intake (signature check, parsing, routing) and its HTTP server.
export default (app) => {
  app.on("issue_comment.created", async () => {});
};
