# install.cmake - what `cmake --install` puts where (GNUInstallDirs): the
# headers, libstrata.so (versioned) and libstrata.a, the strata CLI,
# strata.pc, the CMake package (find_package(strata) -> strata::strata and
# strata::strata_static) and the Python package with its compiled kernels. Consumers get no -Werror:
# the project's warning flags are compile options of its own targets only.
include(CMakePackageConfigHelpers)

install(TARGETS strata_shared strata EXPORT strataTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS strata_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(STRATA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/strata)
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${STRATA_CMAKE_DIR})
configure_package_config_file(cmake/strataConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/strataConfig.cmake INSTALL_DESTINATION ${STRATA_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/strataConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/strataConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/strataConfigVersion.cmake
        DESTINATION ${STRATA_CMAKE_DIR})

# Relocatable: prefix is found from the .pc file's own place.
file(RELATIVE_PATH STRATA_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
# The Python package: <libdir>/python3/dist-packages/strata, with its kernels.
set(STRATA_PYDIR ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages/strata)
install(DIRECTORY python/strata/ DESTINATION ${STRATA_PYDIR} FILES_MATCHING PATTERN "*.py")
install(TARGETS strata_pykernels LIBRARY DESTINATION ${STRATA_PYDIR})

set(STRATA_PC_MPI "")
if(STRATA_HAVE_MPI)
  string(JOIN " " STRATA_PC_MPI ${MPI_C_LIBRARIES})
endif()
configure_file(cmake/strata.pc.in ${CMAKE_CURRENT_BINARY_DIR}/strata.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/strata.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
