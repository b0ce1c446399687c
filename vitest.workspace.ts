export default ["packages/*", "examples", "bench"]
