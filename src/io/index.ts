/**
 * Model persistence. `fileSystem` is an IOHandler for Node's filesystem;
 * `registerFileSystemRouter` makes `file://` URLs reach it (done on import).
 */
export {fileSystem} from './file_system';
export {registerFileSystemRouter} from './router';
