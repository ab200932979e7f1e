/**
 * Model persistence. `fileSystem` is an IOHandler for Node's filesystem;
 * `registerFileSystemRouter` makes `file://` URLs reach it (done on import).
 */
export {fileSystem, registerFileSystemRouter} from './file_system';
