#pragma D attributes Evolving/Evolving/Common provider stab provider
#pragma D attributes Private/Private/Unknown provider stab module
#pragma D attributes Private/Private/Unknown provider stab function
#pragma D attributes Evolving/Evolving/Common provider stab name
#pragma D attributes Evolving/Evolving/Common provider stab args

provider stab {
    probe conn__open(int fd, unsigned short port);
    probe conn__close(int fd);
};
